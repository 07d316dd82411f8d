"""Messaging channels for Teman Migrasi (loaded by the Rasa server via credentials.yml).

Module paths for credentials.yml:
    bot.channels.rest.SafeRestInput             -> /webhooks/rest/webhook (replaces `rest:`)
    bot.channels.whatsapp.WhatsAppInput         -> /webhooks/whatsapp/webhook
    bot.channels.twilio_signed.TwilioSignedInput -> /webhooks/twilio_whatsapp/webhook
    bot.channels.demo_page.DemoPageInput        -> /demo/

WhatsApp/Twilio conversations are keyed by pseudonymous ids (``wa:…`` / ``tw:…``, see
bot.channels.identity); both need the SENDER_ID_KEY environment variable.
"""
