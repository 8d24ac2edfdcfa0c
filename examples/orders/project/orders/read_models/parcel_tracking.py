"""The ParcelTracking read model: a view kept up to date from events.

aether-gen created this file once and never overwrites it. ``self.rows`` maps an
actor id to its row; keep it, or store the view wherever your queries need it.
"""

from aether.kit import Event

from ..bases import ParcelTrackingBase, ParcelTrackingRow
from ..events import ParcelShipped, ShipmentPrepared


class ParcelTracking(ParcelTrackingBase):
    def on_shipment_prepared(self, event: ShipmentPrepared, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, ParcelTrackingRow())
        self.rows[envelope.actor_id] = row.model_copy(update={'order_id': event.order_id})

    def on_parcel_shipped(self, event: ParcelShipped, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, ParcelTrackingRow())
        self.rows[envelope.actor_id] = row.model_copy(update={
            'tracking_code': event.tracking_code,
        })
