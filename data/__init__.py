"""NSynth-format datasets: loader, filters, splits, label encoders, SoundFont renderer, code store."""
