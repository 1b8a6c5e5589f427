"""The web service and page: ``escucha serve`` (FastAPI + uvicorn), a thin layer over the same
Predictor and call analysis the command line uses.

>>> from escucha.service import create_app, ServiceConfig
>>> app = create_app(config=ServiceConfig(workers=2, token="s3cret"))   # any ASGI server runs it

See :mod:`escucha.service.app` for the routes and ``docs/service.md`` for the protocol, the
limits and measured load. Needs the ``serve`` extra (``pip install 'escucha[serve]'``).
"""

from .config import ServiceConfig

__all__ = ["create_app", "ServiceConfig"]


def create_app(model=None, config=None, store=None):
    """The ASGI application (see :func:`escucha.service.app.create_app`)."""
    from .app import create_app as _create

    return _create(model, config, store=store)
