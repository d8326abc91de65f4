"""Invoicing: rate-card invoices generated from delivery records, their approval, credit notes and PDFs."""
