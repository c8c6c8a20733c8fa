"""Everything one trial needs, by stage: data -> features -> model -> training -> serving.

The modules at this level are the core every stage shares (keys and registers, the image
size, errors, the tracking URI); a stage imports only from the core and earlier stages.
"""
