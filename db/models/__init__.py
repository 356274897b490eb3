"""Every table of the product; importing this module registers them all on ``Base.metadata``."""

from db.models.billing import Bill, BillItem, Payment, Sequence
from db.models.clinical import (
    Consultation,
    ConsultationNote,
    Diagnosis,
    Document,
    LabOrder,
    LabResult,
    LabTest,
    Prescription,
    PrescriptionFavourite,
    PrescriptionItem,
    Vitals,
)
from db.models.messaging import (
    ConversationSession,
    MessageTemplate,
    OutboxMessage,
    Rating,
    WhatsAppMessage,
)
from db.models.people import (
    Consent,
    DataRequest,
    Patient,
    PatientAllergy,
    PatientCondition,
    PatientMedication,
    User,
    UserSession,
)
from db.models.platform import (
    AuditChainHead,
    AuditEntry,
    BreachLogEntry,
    Plan,
    Subscription,
    UsageMetric,
)
from db.models.queue import DoctorSession, QueueEvent, QueueToken, TokenCounter
from db.models.scheduling import Appointment, BookingRequest, WaitlistEntry
from db.models.tenancy import (
    Announcement,
    Branch,
    Department,
    Doctor,
    DoctorBranch,
    DoctorLeave,
    DoctorSchedule,
    ScheduleBreak,
    ScheduleOverride,
    Tenant,
    WhatsAppNumber,
)

__all__ = [
    "Announcement", "Appointment", "AuditChainHead", "AuditEntry", "Bill", "BillItem",
    "BookingRequest", "Branch", "BreachLogEntry", "Consent", "Consultation", "ConsultationNote",
    "ConversationSession", "DataRequest", "Department", "Diagnosis", "Doctor", "DoctorBranch",
    "DoctorLeave", "DoctorSchedule", "DoctorSession", "Document", "LabOrder", "LabResult",
    "LabTest", "MessageTemplate", "OutboxMessage", "Patient", "PatientAllergy",
    "PatientCondition", "PatientMedication", "Payment", "Plan", "Prescription",
    "PrescriptionFavourite", "PrescriptionItem", "QueueEvent", "QueueToken", "Rating",
    "ScheduleBreak", "ScheduleOverride", "Sequence", "Subscription", "Tenant", "TokenCounter",
    "UsageMetric", "User", "UserSession", "Vitals", "WaitlistEntry", "WhatsAppMessage",
    "WhatsAppNumber",
]
