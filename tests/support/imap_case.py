"""A TernCase for IMAP tests: ternd with the smtp and imaps listeners, the users of
smtp_fixture, and imaplib clients logged in as a user over implicit TLS."""
import imaplib

from ternlib import TernCase, client_tls_context
from smtp_fixture import USERS, populate


class ImapsCase(TernCase):
    tern_options = {"listeners": ("smtp", "imaps")}
    user = "bob@example.test"

    @classmethod
    def prepare(cls, t):
        populate(t)

    @classmethod
    def connect(cls, user=None):
        user = user or cls.user
        m = imaplib.IMAP4_SSL("127.0.0.1", cls.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
        m.login(user, USERS[user])
        return m
