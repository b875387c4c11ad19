"""From replicates to tables: streaming reducers, parquet datasets, summary tables with MCSE."""
