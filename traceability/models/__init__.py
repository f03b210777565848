"""Every table of the system, in one place so that Alembic sees them all."""

from traceability.models.alert import Alert, AlertKind, AlertNote, AlertStatus, CounterfeitScan
from traceability.models.api_key import ApiKey, Role
from traceability.models.check import CheckCount
from traceability.models.code import AggregationAction, AggregationLog, Code, CodeBatch, CodeLevel, CodeStatus
from traceability.models.crm import (
    Campaign,
    MemberStock,
    MemberStockDirty,
    MemberStockState,
    PointsGrant,
    Prospect,
    Reward,
    RewardRedemption,
    Task,
    TaskKind,
    TaskStatus,
)
from traceability.models.event import Capture, ChainHead, Event, EventEpc, RejectedScan
from traceability.models.generation import MASTERDATA_TABLES, MasterDataGeneration
from traceability.models.keys import KeyAlgorithm, KeyStatus, SigningKey
from traceability.models.label import LabelReprint, LabelSymbology, LabelVoid, PrintFormat, PrintJob, PrintJobStatus
from traceability.models.masterdata_vocab import VocabularyElement
from traceability.models.member import Member
from traceability.models.order import (
    Order,
    OrderChannel,
    OrderLine,
    OrderNotice,
    OrderNoticeKind,
    OrderOffer,
    OrderOfferOutcome,
    OrderStatus,
    OrderStep,
)
from traceability.models.party import Party, PartyKind, PartyTerritory, StoreSupplier
from traceability.models.pos import PosPrinter, PosSale, PosSaleKind, PrinterMode
from traceability.models.product import Product
from traceability.models.sale import Dispatch, Purchase, Redemption, Sale
from traceability.models.settlement import SettlementLine, SettlementPeriod
from traceability.models.shipment import ReceiptLine, ReceiptOutcome, Shipment, ShipmentItem, ShipmentStatus
from traceability.models.subscription import EpcisQuery, EpcisSubscription
from traceability.models.territory import Territory

__all__ = [
    "Alert",
    "EpcisQuery",
    "EpcisSubscription",
    "Campaign",
    "MemberStock",
    "MemberStockDirty",
    "MemberStockState",
    "PointsGrant",
    "Prospect",
    "Reward",
    "RewardRedemption",
    "Task",
    "TaskKind",
    "TaskStatus",
    "AlertKind",
    "AlertNote",
    "AlertStatus",
    "CounterfeitScan",
    "LabelReprint",
    "LabelSymbology",
    "LabelVoid",
    "PrintFormat",
    "PrintJob",
    "PrintJobStatus",
    "Dispatch",
    "Purchase",
    "Redemption",
    "Sale",
    "SettlementLine",
    "SettlementPeriod",
    "ShipmentStatus",
    "ShipmentItem",
    "ReceiptLine",
    "ReceiptOutcome",
    "Shipment",
    "RejectedScan",
    "EventEpc",
    "Event",
    "ChainHead",
    "Capture",
    "AggregationAction",
    "AggregationLog",
    "ApiKey",
    "CheckCount",
    "Code",
    "CodeBatch",
    "CodeLevel",
    "CodeStatus",
    "KeyAlgorithm",
    "KeyStatus",
    "MASTERDATA_TABLES",
    "MasterDataGeneration",
    "Member",
    "Order",
    "OrderChannel",
    "OrderLine",
    "OrderNotice",
    "OrderNoticeKind",
    "OrderOffer",
    "OrderOfferOutcome",
    "OrderStatus",
    "OrderStep",
    "Party",
    "PartyKind",
    "PartyTerritory",
    "PosPrinter",
    "PosSale",
    "PosSaleKind",
    "PrinterMode",
    "Product",
    "Role",
    "SigningKey",
    "StoreSupplier",
    "Territory",
    "VocabularyElement",
]
