"""The Shipment aggregate: your decisions and state changes.

aether-gen created this file once and never overwrites it. Each handler checks the
state and records events (or raises DomainError); each apply method returns the
state after its event, and must not fail for a stored event.
"""

import typing

from aether.kit import DomainError

from ..bases import ShipmentBase, ShipmentState
from ..commands import PrepareShipment, ShipParcel
from ..events import ParcelShipped, ShipmentPrepared


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class Shipment(ShipmentBase):
    def handle_prepare_shipment(self, command: PrepareShipment) -> None:
        if self.state.order_id:
            return  # already being prepared
        self.record(ShipmentPrepared(order_id=command.order_id))

    def handle_ship_parcel(self, command: ShipParcel) -> None:
        if not self.state.order_id:
            raise DomainError(f"shipment {self.id} is not prepared yet")
        if self.state.shipped:
            raise DomainError(f"shipment {self.id} has already shipped")
        self.record(ParcelShipped(
            tracking_code=command.tracking_code,
            shipped_at=command.shipped_at,
        ))

    def apply_shipment_prepared(self, event: ShipmentPrepared) -> ShipmentState:
        return self.state.evolve(order_id=event.order_id)

    def apply_parcel_shipped(self, event: ParcelShipped) -> ShipmentState:
        return self.state.evolve(tracking_code=event.tracking_code, shipped=True)
