"""PII values every detector finds, used across the guardrails tests."""

EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"  # passes the Luhn check
IBAN = "GB82 WEST 1234 5698 7654 32"  # a valid ISO 13616 checksum
IP = "203.0.113.42"
API_KEY = "sk-proj-Qx7vB2nL9mK4pR8sT1wY6zA3cD5fG0hJ2kL4mN6pQ8rS0tU"

ALL = (EMAIL, PHONE, CARD, IBAN, IP, API_KEY)

PROMPT = (
    f"Please email {EMAIL} or call {PHONE}. Charge card {CARD}, refund to IBAN {IBAN}. "
    f"The login came from {IP}; my key is {API_KEY}."
)
