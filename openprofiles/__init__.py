"""OpenProfiles: a self-hosted Amazon Connect Customer Profiles and AppFlow."""

__version__ = "0.1.0"
