"""The referrals blueprint; its pages are in views.py (a referral), lists.py and drafting.py."""

from flask import Blueprint

bp = Blueprint("referrals", __name__, url_prefix="/referrals")
