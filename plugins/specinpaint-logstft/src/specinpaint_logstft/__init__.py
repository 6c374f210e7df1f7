"""Example specinpaint plugin: log-magnitude STFT, inverted with Griffin-Lim."""
