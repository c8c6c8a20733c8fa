"""Making datasets: instruments and their rendering (TinySoundFont or FluidSynth), the
engraved targets, annotations, audio and onsets, imports of recordings, timbres."""
