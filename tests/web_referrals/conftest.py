from tests.referrals.conftest import rw  # noqa: F401 - the referral world for the page tests
