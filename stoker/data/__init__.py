"""The data service: pipelines, the dispatcher's ledger, workers, transport and the Loader."""
