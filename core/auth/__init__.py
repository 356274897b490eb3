"""Staff authentication, roles and permission checks."""
