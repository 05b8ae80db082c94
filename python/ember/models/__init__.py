"""`ember.models`: Model and Sequential."""

from ember.models.model import Model
from ember.models.sequential import Sequential
from ember.saving.saving_api import load_model, model_from_json, save_model

__all__ = ["Model", "Sequential", "load_model", "model_from_json", "save_model"]
