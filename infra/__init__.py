"""ShopDesk's AWS infrastructure as a CDK (Python) app; `python -m infra` synthesizes and checks it offline."""
