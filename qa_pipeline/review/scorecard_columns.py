"""The review, appeal and calibration columns of the per-agent scorecard (xlsx/html), from the workstation tables.

Per agent, over the calls the scorecard's filter selects: calls with a submitted official review (已复核), the mean
final score of those with a known total (复核后平均分, the one 100-point scale), appeals opened (申诉) and
overturned (改判), and calls that were used in calibration sessions (校准通话).
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from ..i18n import t
from ..store import schema as S
from ..store.db import Store
from ..store.filters import CallFilter
from . import loop_tables as L
from . import tables as T

COLUMNS = ("reviewed", "final_mean", "appeals", "overturned", "calibrated")  # labels: scorecard.col.* in the catalog


def review_columns(store: Store, f: CallFilter) -> pd.DataFrame:
    """One row per agent id (index) with the COLUMNS keys; agents without any of these have no row."""
    c, rv, ap, cc = S.calls, T.reviews, L.appeals, L.calibration_calls
    conds = f.conditions()
    # the same stand-in the scorecard gives calls without an agent, so the rows join in either language
    agent = sa.func.coalesce(c.c.agent_id, t("scorecard.unknown_agent")).label("agent_id")
    with store.read() as conn:
        if not sa.inspect(conn).has_table(ap.name):  # a database from before the workstation's part 2
            return pd.DataFrame(columns=list(COLUMNS)).rename_axis("agent_id")
        rev = conn.execute(
            sa.select(agent, sa.func.count().label("reviewed"), sa.func.avg(rv.c.final_total).label("final_mean"))
            .select_from(rv.join(c, c.c.call_id == rv.c.call_id))
            .where(rv.c.purpose == "review", rv.c.state == "submitted", *conds)
            .group_by(agent)
        ).all()
        app = conn.execute(
            sa.select(
                agent,
                sa.func.count().label("appeals"),
                sa.func.sum(sa.case((ap.c.state == "overturned", 1), else_=0)).label("overturned"),
            )
            .select_from(ap.join(c, c.c.call_id == ap.c.call_id))
            .where(*conds)
            .group_by(agent)
        ).all()
        cal = conn.execute(
            sa.select(agent, sa.func.count(sa.distinct(cc.c.call_id)).label("calibrated"))
            .select_from(cc.join(c, c.c.call_id == cc.c.call_id))
            .where(*conds)
            .group_by(agent)
        ).all()
    frames = [
        pd.DataFrame([dict(r._mapping) for r in rows], columns=["agent_id", *cols]).set_index("agent_id")
        for rows, cols in ((rev, ["reviewed", "final_mean"]), (app, ["appeals", "overturned"]), (cal, ["calibrated"]))
    ]
    out = pd.concat(frames, axis=1)
    for k in ("reviewed", "appeals", "overturned", "calibrated"):
        out[k] = out[k].fillna(0).astype(int)
    out["final_mean"] = out["final_mean"].astype(float)
    return out[list(COLUMNS)]
