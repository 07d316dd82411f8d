"""Messaging channels for Teman Migrasi (loaded by the Rasa server via credentials.yml).

Module paths for credentials.yml:
    bot.channels.whatsapp.WhatsAppInput        -> /webhooks/whatsapp/webhook
    bot.channels.twilio_signed.TwilioSignedInput -> /webhooks/twilio_whatsapp/webhook
    bot.channels.demo_page.DemoPageInput       -> /demo/
"""
