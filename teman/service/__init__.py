"""The decision service: Rasa's external NLU (`/model/parse`) and its action server
(`/webhook`) in one Python 3.11 process, so the knowledge base is loaded once."""
