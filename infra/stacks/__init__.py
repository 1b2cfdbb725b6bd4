"""CDK stacks and constructs of ShopDesk."""
