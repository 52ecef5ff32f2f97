# placeholder
class LeptonDetector:
    def score(self, values):
        import numpy as np
        return np.zeros(len(values))
