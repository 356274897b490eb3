"""India's DPDP Act in practice: consent history, erasure on request, the breach log and the
message retention purge's record (SPEC §4 "Security and compliance")."""
