"""Errors raised by the age implementation; callers map them to errors.DecryptionFailed."""

from __future__ import annotations


class AgeError(Exception):
    """Base of every age failure (never carries key material)."""


class NoIdentityMatch(AgeError):
    """The header parsed, but no identity could unwrap any stanza ("no match")."""


class HeaderError(AgeError):
    """The header (or a recognised stanza, or the payload nonce) is malformed."""


class HMACError(HeaderError):
    """A file key was unwrapped but the header MAC does not match."""


class PayloadError(AgeError):
    """The STREAM payload failed to authenticate, is truncated or has trailing data."""


class ArmorError(AgeError):
    """The ASCII armor is malformed."""


class KeyFormatError(AgeError, ValueError):
    """A recipient or identity string is not a valid age key encoding."""
