"""Offer check ("cek lowongan"): red flags found in one job offer, rules in knowledge/offers/."""
