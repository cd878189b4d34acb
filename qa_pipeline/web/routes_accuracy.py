"""stub"""

from fastapi import FastAPI

from .loop import Web


def register(app: FastAPI, web: Web) -> None:
    pass
