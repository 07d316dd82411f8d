"""Channel settings the end-to-end stack runs with (fake Meta and Twilio APIs)."""

# The messaging channels run too, against a local fake of Meta's and Twilio's APIs.
WHATSAPP = {
    "WHATSAPP_VERIFY_TOKEN": "e2e-verify",
    "WHATSAPP_APP_SECRET": "e2e-app-secret",
    "WHATSAPP_ACCESS_TOKEN": "e2e-access-token",
    "WHATSAPP_PHONE_NUMBER_ID": "1098765",
}
TWILIO = {
    "TWILIO_ACCOUNT_SID": "ACe2e0000000000000000000000000000",
    "TWILIO_AUTH_TOKEN": "e2e-twilio-token",
    "TWILIO_WHATSAPP_NUMBER": "whatsapp:+14155238886",
}
SENDER_ID_KEY = "e2e-sender-id-key-0123456789abcdef"
