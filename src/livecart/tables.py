"""Imports every domain's tables so the metadata is complete (for Alembic and test set-up)."""

from __future__ import annotations

from sqlalchemy import MetaData

from livecart.accounts import models as accounts_models
from livecart.catalog import models as catalog_models
from livecart.commerce import models as commerce_models
from livecart.core.db import Base
from livecart.flashsale import models as flashsale_models
from livecart.insights import models as insights_models
from livecart.live import models as live_models
from livecart.marketing import models as marketing_models
from livecart.service import models as service_models
from livecart.supervision import models as supervision_models

DOMAIN_MODELS = (
    accounts_models,
    catalog_models,
    live_models,
    commerce_models,
    flashsale_models,
    insights_models,
    supervision_models,
    marketing_models,
    service_models,
)


def metadata() -> MetaData:
    """The metadata holding every table of every domain."""
    return Base.metadata
