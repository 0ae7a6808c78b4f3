"""The monthly report: built from the stored results, as a page, a PDF and an Excel file."""
