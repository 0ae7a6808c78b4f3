"""The monthly report, built from the stored results: a page, a PDF and an Excel file."""
