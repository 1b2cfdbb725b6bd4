"""ShopDesk: serverless customer support for online stores."""
