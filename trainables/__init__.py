"""Everything one trial needs: keys, dataset, features, model, losses, metrics, training."""
