"""Parsers of the CalcJobs."""


def read_text(retrieved, name: str) -> str:
    """A retrieved file as text; bytes that are not UTF-8 (binary garbage, a character cut by a killed job) become
    U+FFFD instead of failing the parse."""
    return retrieved.base.repository.get_object_content(name, mode="rb").decode("utf-8", errors="replace")
