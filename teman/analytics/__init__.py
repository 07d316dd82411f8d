"""Analytics without identities: counts of what people ask and what the bot did.

A consumer of Rasa's event broker (RabbitMQ) turns tracker events into hourly aggregate
counts (:mod:`teman.analytics.events`, :mod:`teman.analytics.store`); `make report` draws
them for staff and funders (:mod:`tools.analytics_report`). Sender ids and message text are
never written: the tables hold a time bucket, a channel name, a metric, a key drawn from the
bot's own vocabulary (intent, decision, knowledge entry id, risk category) and a count.
"""
