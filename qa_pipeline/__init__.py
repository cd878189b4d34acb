"""callqa: offline QA scoring of Mandarin call-centre recordings."""

__version__ = "0.1.0"
