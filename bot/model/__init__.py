"""The model: its directory format (bot.model.format, the contract with finetune/), the torch model
(helpline_model, imported only where torch is wanted), the serving classifier, predictions and emotions."""
