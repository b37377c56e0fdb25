"""Learning the house's eye: feedback and design codes -> training pairs -> a trained pattern head -> new versions."""
