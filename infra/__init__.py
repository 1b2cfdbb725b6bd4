"""ShopDesk's AWS infrastructure as a CDK (Python) app; `python -m infra` synthesizes and checks it offline."""
from infra.node import NodeNotFound, use_wheel_node

# Before anything below imports aws_cdk: jsii starts its Node.js kernel when the first assembly loads.
try:
    use_wheel_node()
except NodeNotFound:
    pass  # jsii's own error says what is missing, and only where CDK is actually used
