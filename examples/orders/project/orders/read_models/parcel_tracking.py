"""The ParcelTracking read model: a view kept up to date from events.

aether-gen created this file once and never overwrites it. ``self.rows`` maps an
actor id to its row; keep it, or store the view wherever your queries need it.
"""

import typing

from aether.kit import Event

from ..bases import ParcelTrackingBase, ParcelTrackingRow
from ..events import ParcelShipped, ShipmentPrepared


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class ParcelTracking(ParcelTrackingBase):
    def on_shipment_prepared(self, event: ShipmentPrepared, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, ParcelTrackingRow())
        self.rows[envelope.actor_id] = row.evolve(order_id=event.order_id)

    def on_parcel_shipped(self, event: ParcelShipped, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, ParcelTrackingRow())
        self.rows[envelope.actor_id] = row.evolve(tracking_code=event.tracking_code)
