"""The strategy search: Optuna over the settings of `config.search_space`, tuned on in-sample
folds and judged on a held-out window it never sees (DESIGN: research you can believe)."""
