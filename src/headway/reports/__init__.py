"""The monthly report: built from the stored results and their analysis, as a page, PDF and Excel."""
