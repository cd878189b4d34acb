"""`python -m qa_pipeline …` is the `callqa` command."""

from qa_pipeline.cli import app

if __name__ == "__main__":
    app(prog_name="callqa")
