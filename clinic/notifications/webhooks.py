"""Inbound SMS from the provider's webhook: checking its signature and reading the message.

The provider (Twilio's scheme) signs each webhook request: base64 of HMAC-SHA1, keyed with the
account's auth token, over the full URL it called followed by every POST parameter as name and
value, sorted by name; the result arrives in the ``X-Twilio-Signature`` header. The view that
receives the webhook passes the URL it was called on (``request.build_absolute_uri()``, which
needs the deployment's proxy settings to give the public https URL), ``request.POST`` and that
header, and answers 403 when the signature does not verify.
"""

import base64
import hashlib
import hmac
from urllib.parse import urlsplit, urlunsplit

# The provider's own opt-out and opt-in keywords (a message that is exactly one of these
# words, any case): the provider stops delivering on its side too, so the clinic must
# record it and stop sending.
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})

_DEFAULT_PORTS = {"https": 443, "http": 80}


def _values(params, key) -> list[str]:
    if hasattr(params, "getlist"):  # a QueryDict: a name may repeat
        values = params.getlist(key)
    else:
        values = params[key]
        if not isinstance(values, list | tuple):
            values = [values]
    return [str(value) for value in values]


def compute_sms_signature(*, url: str, params, auth_token: str) -> str:
    payload = url
    for key in sorted(set(params)):
        for value in sorted(set(_values(params, key))):
            payload += key + value
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """The URL as given, without its port and with the scheme's default port: the provider
    may have signed either form (its own validators accept both)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return [url]
    without_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    variants = [url, without_port]
    if port:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}")))
    return list(dict.fromkeys(variants))


def verify_sms_signature(*, url: str, params: dict, signature: str, auth_token: str) -> bool:
    """Whether ``signature`` (the ``X-Twilio-Signature`` header) signs this request."""
    if not signature or not auth_token:
        return False
    given = signature.strip().encode()
    matches = [
        hmac.compare_digest(
            compute_sms_signature(url=candidate, params=params, auth_token=auth_token).encode(),
            given,
        )
        for candidate in _url_variants(url)
    ]
    return any(matches)


def parse_inbound_sms(params) -> tuple[str, str]:
    """The sender's number (E.164) and the text of an inbound message's webhook parameters.

    Raises ``ValueError`` when the request names no sender.
    """
    from_number = str(params.get("From") or "").strip()
    if not from_number:
        raise ValueError("The inbound message names no sender.")
    return from_number, str(params.get("Body") or "")


def is_opt_out(body: str) -> bool:
    """Whether an inbound text asks to stop all messages (``STOP`` and its synonyms)."""
    return body.strip().upper() in OPT_OUT_KEYWORDS


def is_opt_in(body: str) -> bool:
    """Whether an inbound text asks to receive messages again (``START``…)."""
    return body.strip().upper() in OPT_IN_KEYWORDS
