"""Demo data: a BeNCH-like CRC and its supply chain, from Annex 3 of the 2019 inspection report."""
