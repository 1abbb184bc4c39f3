"""Tools production never imports: the soak, fault injection, the journal export."""
