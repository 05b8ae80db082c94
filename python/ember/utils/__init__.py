from ember.utils.progbar import Progbar
