"""The model: its directory format (bot.model.format, the contract with finetune/), the one model class
(helpline_model.HelplineModel) with its two runtimes (onnx_runtime without torch, torch_runtime), the optional
components, predictions and emotions."""
