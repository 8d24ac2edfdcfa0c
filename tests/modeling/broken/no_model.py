modell = None
