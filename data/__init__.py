"""What the engine and the dashboard share: plain types (`types`), market maths (`market`),
statistics (`stats`), the database (`store`) and the dashboard's reads of it (`queries`)."""
